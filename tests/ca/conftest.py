from tests.softhsm import softhsm  # noqa: F401  # the session's SoftHSM2 token
