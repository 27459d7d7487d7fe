"""The embedded runtime behind `careflow up`: Temporal dev server, capture SMTP, worker, API."""
