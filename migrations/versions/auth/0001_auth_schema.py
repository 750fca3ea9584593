"""Auth schema: users, roles, sessions, refresh tokens, login history partitioned by device.

Revision ID: auth_0001
Revises:
Create Date: 2026-11-23
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision: str = "auth_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("auth",)
depends_on: str | Sequence[str] | None = None

SCHEMA = "auth"
DEVICE_TYPES = ("web", "mobile", "smart_tv", "other")
OUTCOMES = ("success", "wrong_password", "unknown_account", "locked", "inactive")
METHODS = ("password", "oauth")

# A frozen copy of the built-in roles as they were when this revision was written.
PUBLIC = ["catalog.read", "ugc.write"]
SUBSCRIBER = [*PUBLIC, "content.premium"]
ADMIN = [*SUBSCRIBER, "admin.access", "catalog.write", "users.read", "notify.send"]
SUPER = [*ADMIN, "roles.manage", "users.manage"]
ROLES = (
    ("public_user", "Every signed-up account.", PUBLIC),
    ("subscriber", "A paying subscriber: premium content.", SUBSCRIBER),
    ("admin", "Editors of the catalog and the admin panel.", ADMIN),
    ("super_user", "Everything, including roles and accounts.", SUPER),
)


def _now(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    op.create_table(
        "users",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text()),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        _now("created"),
        sa.Column("last_login_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),
        schema=SCHEMA,
    )
    role = op.create_table(
        "role",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("permissions", ARRAY(sa.Text()), nullable=False),
        _now("created"),
        sa.PrimaryKeyConstraint("id", name="pk_role"),
        sa.UniqueConstraint("name", name="uq_role_name"),
        schema=SCHEMA,
    )
    op.create_table(
        "user_role",
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        sa.Column("role_id", UUID(as_uuid=True), nullable=False),
        _now("granted"),
        sa.PrimaryKeyConstraint("user_id", "role_id", name="pk_user_role"),
        sa.ForeignKeyConstraint(
            ["user_id"], [f"{SCHEMA}.users.id"], ondelete="CASCADE",
            name="fk_user_role_user_id_users",
        ),
        sa.ForeignKeyConstraint(
            ["role_id"], [f"{SCHEMA}.role.id"], ondelete="CASCADE",
            name="fk_user_role_role_id_role",
        ),
        schema=SCHEMA,
    )  # fmt: skip
    op.create_index("ix_user_role_role_id", "user_role", ["role_id"], schema=SCHEMA)
    op.create_table(
        "session",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        _now("created"),
        _now("last_used"),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_reason", sa.Text()),
        sa.Column("ip", sa.Text()),
        sa.Column("user_agent", sa.Text()),
        sa.Column("device_type", sa.String(32), nullable=False),
        sa.Column("access_jti", sa.Text()),
        sa.Column("access_expires_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_session"),
        sa.ForeignKeyConstraint(
            ["user_id"], [f"{SCHEMA}.users.id"], ondelete="CASCADE",
            name="fk_session_user_id_users",
        ),
        sa.CheckConstraint(_in("device_type", DEVICE_TYPES), name="ck_session_device_type"),
        schema=SCHEMA,
    )  # fmt: skip
    op.create_index("ix_session_user_id", "session", ["user_id"], schema=SCHEMA)
    op.create_table(
        "refresh_token",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("session_id", UUID(as_uuid=True), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=False),
        _now("created"),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_refresh_token"),
        sa.UniqueConstraint("token_hash", name="uq_refresh_token_token_hash"),
        sa.ForeignKeyConstraint(
            ["session_id"], [f"{SCHEMA}.session.id"], ondelete="CASCADE",
            name="fk_refresh_token_session_id_session",
        ),
        schema=SCHEMA,
    )  # fmt: skip
    op.create_index("ix_refresh_token_session_id", "refresh_token", ["session_id"], schema=SCHEMA)

    # Partitioned parent and one LIST partition per device type.
    op.execute(
        f"""
        CREATE TABLE {SCHEMA}.login_history (
            id uuid NOT NULL,
            device_type varchar(32) NOT NULL,
            user_id uuid,
            email text NOT NULL,
            created timestamptz NOT NULL DEFAULT now(),
            ip text,
            user_agent text,
            method varchar(32) NOT NULL,
            outcome varchar(32) NOT NULL,
            CONSTRAINT pk_login_history PRIMARY KEY (id, device_type),
            CONSTRAINT ck_login_history_device_type CHECK ({_in("device_type", DEVICE_TYPES)}),
            CONSTRAINT ck_login_history_login_method CHECK ({_in("method", METHODS)}),
            CONSTRAINT ck_login_history_login_outcome CHECK ({_in("outcome", OUTCOMES)})
        ) PARTITION BY LIST (device_type)
        """
    )
    for device in DEVICE_TYPES:
        op.execute(
            f"CREATE TABLE {SCHEMA}.login_history_{device} "
            f"PARTITION OF {SCHEMA}.login_history FOR VALUES IN ('{device}')"
        )
    op.create_index(
        "ix_login_history_user_id_created", "login_history", ["user_id", "created"], schema=SCHEMA
    )

    op.create_table(
        "signing_key",
        sa.Column("kid", sa.Text(), nullable=False),
        sa.Column("algorithm", sa.Text(), nullable=False),
        sa.Column("private_pem", sa.Text(), nullable=False),
        sa.Column("public_jwk", JSONB(), nullable=False),
        _now("created"),
        sa.Column("retired_at", sa.DateTime(timezone=True)),
        sa.Column("verify_until", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("kid", name="pk_signing_key"),
        schema=SCHEMA,
    )
    op.create_table(
        "password_reset",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=False),
        _now("created"),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_password_reset"),
        sa.UniqueConstraint("token_hash", name="uq_password_reset_token_hash"),
        sa.ForeignKeyConstraint(
            ["user_id"], [f"{SCHEMA}.users.id"], ondelete="CASCADE",
            name="fk_password_reset_user_id_users",
        ),
        schema=SCHEMA,
    )  # fmt: skip
    op.create_table(
        "oauth_account",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        sa.Column("email", sa.Text()),
        _now("created"),
        sa.PrimaryKeyConstraint("id", name="pk_oauth_account"),
        sa.UniqueConstraint("provider", "subject", name="uq_oauth_account_provider_subject"),
        sa.ForeignKeyConstraint(
            ["user_id"], [f"{SCHEMA}.users.id"], ondelete="CASCADE",
            name="fk_oauth_account_user_id_users",
        ),
        schema=SCHEMA,
    )  # fmt: skip
    op.create_index("ix_oauth_account_user_id", "oauth_account", ["user_id"], schema=SCHEMA)

    op.bulk_insert(
        role,
        [
            {"id": uuid.uuid5(uuid.NAMESPACE_URL, f"kinoteka:role:{name}"), "name": name,
             "description": description, "permissions": permissions}
            for name, description, permissions in ROLES
        ],
    )  # fmt: skip


def downgrade() -> None:
    op.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
