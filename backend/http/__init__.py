"""The thin HTTP layer: routes that parse requests, call the service and map errors to statuses."""
