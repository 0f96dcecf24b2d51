"""Security mechanics of the app: keys, token verification, request-body limits."""
