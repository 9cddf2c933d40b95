"""Storage edges: the database (ORM, migrations, repositories) and the object store."""
