"""The ceiling of this stack: a bare Flask + SQLAlchemy endpoint inserting one row into
PostgreSQL, served by the same gunicorn as commonpot. Not part of the product.

    DATABASE_URL=postgresql+psycopg://... gunicorn --chdir bench/load ceiling_app:app
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from flask import Flask, request
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, create_engine, insert

metadata = MetaData()
hits = Table(
    "bench_hit",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("payload", String(200), nullable=False),
)
engine = create_engine(os.environ["DATABASE_URL"], pool_pre_ping=True)
app = Flask(__name__)


@app.post("/insert")
def insert_one():
    with engine.begin() as connection:
        connection.execute(
            insert(hits).values(at=datetime.now(UTC), payload=request.form.get("payload", "")[:200])
        )
    return "ok"
