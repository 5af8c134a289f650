"""Solvers for ``min_x 1/2 ||y - A x||^2 + lam phi(x)``: classical and learned."""

from inversa.solvers.base import Result, Stop, objective
from inversa.solvers.learned import DeepEquilibrium, Unrolled
from inversa.solvers.linear import conjugate_gradient, normal_solver
from inversa.solvers.proximal import FISTA, GradientDescent, ista
from inversa.solvers.splitting import ADMM, HQS, pnp_admm, pnp_hqs, sigma_schedule

__all__ = [
           "ADMM",
           "FISTA",
           "HQS",
           "DeepEquilibrium",
           "GradientDescent",
           "Result",
           "Stop",
           "Unrolled",
           "conjugate_gradient",
           "ista",
           "normal_solver",
           "objective",
           "pnp_admm",
           "pnp_hqs",
           "sigma_schedule",
]
