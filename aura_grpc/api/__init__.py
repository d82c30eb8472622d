"""gRPC servicers: translate messages to domain calls and errors to statuses."""
