"""hopflow.models: the data: settings, database, ORM, schemas, access, migrations; never imports prefect."""
