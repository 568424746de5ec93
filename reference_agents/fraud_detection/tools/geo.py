"""Great-circle distances on the Earth, via scikit-learn's haversine metric."""

from __future__ import annotations

import numpy as np
from sklearn.metrics.pairwise import haversine_distances

# IUGG mean Earth radius R1 (Moritz, "Geodetic Reference System 1980").
EARTH_RADIUS_KM = 6371.0088


def distances_km(origins_deg: np.ndarray, targets_deg: np.ndarray) -> np.ndarray:
    """Haversine distances in km between points given as ``(latitude, longitude)`` degrees.

    Args:
        origins_deg: shape ``(n, 2)``.
        targets_deg: shape ``(m, 2)``.

    Returns:
        shape ``(n, m)`` distances in km on a sphere of radius :data:`EARTH_RADIUS_KM`.
    """
    return haversine_distances(np.radians(origins_deg), np.radians(targets_deg)) * EARTH_RADIUS_KM


def medoid(points_deg: np.ndarray) -> np.ndarray:
    """The point of ``points_deg`` (shape ``(n, 2)``, n >= 1) with the least total distance to the others:
    a customer's "home" location that is robust to trips and correct across the antimeridian."""
    return points_deg[int(np.argmin(distances_km(points_deg, points_deg).sum(axis=1)))]
