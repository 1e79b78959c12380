"""pinman: pin Claude Code (and its SDK) per profile, check it, roll it back."""

__version__ = "0.1.0"
