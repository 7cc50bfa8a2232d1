"""Examples of customers' code that uses Chatframe."""
