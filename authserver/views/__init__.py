"""HTTP views: thin blueprints that parse, call one service and shape the response."""
