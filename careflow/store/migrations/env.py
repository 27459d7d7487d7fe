"""Alembic environment: careflow always hands in a live connection (see db.migrate)."""

from alembic import context

from careflow.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("careflow migrations run through careflow.store.Database.migrate()")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
