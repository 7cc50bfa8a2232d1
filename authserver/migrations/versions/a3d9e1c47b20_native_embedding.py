"""native app embedding settings on clients

Revision ID: a3d9e1c47b20
Revises: c8a0a58cff56
Create Date: 2026-11-28 05:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a3d9e1c47b20'
down_revision = 'c8a0a58cff56'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('native_enabled', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column('native_fragment', sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade():
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('native_fragment')
        batch_op.drop_column('native_enabled')
