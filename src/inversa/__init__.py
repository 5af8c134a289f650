"""inversa: physical forward models joined with learned priors for scientific imaging.

A measurement is a physical operator applied to an unknown signal, plus noise:
``y = A x + e``. We recover ``x`` by solving
``min_x 1/2 ||y - A x||^2 + lam * phi(x)`` with classical or learned priors ``phi``.
"""

from inversa.errors import InputError

__all__ = ["InputError", "__version__"]
__version__ = "0.1.0"
