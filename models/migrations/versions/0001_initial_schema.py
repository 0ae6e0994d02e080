"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 04:03:01.906167
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import hopflow.models.orm.base

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


# The tables upgrade() creates, in order (parents before the tables that point at them).
CREATED = (
    'agent_definitions', 'container_inventory', 'entities', 'memory_contexts', 'sync_watermarks', 'tags',
    'agent_consciousness', 'inbox_events', 'taggings', 'users', 'events', 'projects', 'workspaces',
    'agent_configurations', 'plans', 'directives', 'missions', 'plan_tasks', 'playbooks',
    'tool_allowlist', 'agent_run_logs', 'hops', 'reflections', 'reflection_memories', 'run_artifacts',
    'tool_steps', 'assets', 'faults', 'llm_calls', 'thought_logs',
)


def upgrade() -> None:
    op.create_table('agent_definitions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('epithet', sa.String(length=255), nullable=True),
    sa.Column('tagline', sa.String(length=255), nullable=True),
    sa.Column('introduction_text', sa.Text(), nullable=True),
    sa.Column('archetype', sa.String(length=255), nullable=True),
    sa.Column('dna_phrase', sa.String(length=255), nullable=True),
    sa.Column('core_capabilities', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('essence_punch', sa.String(length=255), nullable=True),
    sa.Column('essence_interpretation', sa.Text(), nullable=True),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('triggers_config', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('inputs_schema', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('outputs_config', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('stack_details', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('memory_config', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('default_file_structure_template', sa.Text(), nullable=True),
    sa.Column('key_files_and_paths', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('scheduling_and_triggers_summary', sa.Text(), nullable=True),
    sa.Column('kpis_definition', sa.Text(), nullable=True),
    sa.Column('failure_fallback_strategy', sa.Text(), nullable=True),
    sa.Column('example_integration_flow', sa.Text(), nullable=True),
    sa.Column('dynamic_expansion_notes', sa.Text(), nullable=True),
    sa.Column('escape_the_obvious_feature', sa.Text(), nullable=True),
    sa.Column('underlying_services_required', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('category', sa.String(length=255), nullable=True),
    sa.Column('concurrency_limit', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'active', 'deprecated', name='agentdefinitionstatus', native_enum=False, create_constraint=True, length=18), nullable=False),
    sa.Column('created_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_definitions')),
    sa.UniqueConstraint('name', name=op.f('uq_agent_definitions_name'))
    )
    op.create_table('container_inventory',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('container_id', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('image', sa.String(length=512), nullable=True),
    sa.Column('state', sa.String(length=64), nullable=True),
    sa.Column('labels', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('snapshot_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_container_inventory'))
    )
    op.create_index('ix_container_inventory_container_snapshot', 'container_inventory', ['container_id', 'snapshot_at'], unique=False)
    op.create_table('entities',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('entity_type', sa.Enum('human', 'agent', name='entitytype', native_enum=False, create_constraint=True, length=13), nullable=False),
    sa.Column('specialty', sa.String(length=255), nullable=True),
    sa.Column('contact', sa.String(length=255), nullable=True),
    sa.Column('metadata', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.Enum('active', 'inactive', name='entitystatus', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('created_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entities'))
    )
    op.create_index(op.f('ix_entities_entity_type'), 'entities', ['entity_type'], unique=False)
    op.create_index(op.f('ix_entities_specialty'), 'entities', ['specialty'], unique=False)
    op.create_table('memory_contexts',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('target_type', sa.Enum('agent', 'task', 'plan', 'project', 'mission', 'other', name='memorytargettype', native_enum=False, create_constraint=True, length=15), nullable=False),
    sa.Column('target_id', sa.String(length=255), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=True),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('important', sa.Boolean(), nullable=False),
    sa.Column('category', sa.String(length=255), nullable=True),
    sa.Column('created_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_memory_contexts')),
    sa.UniqueConstraint('target_type', 'target_id', 'key', name=op.f('uq_memory_contexts_target_type_target_id_key'))
    )
    op.create_index('ix_memory_contexts_target', 'memory_contexts', ['target_type', 'target_id'], unique=False)
    op.create_table('sync_watermarks',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_sync_watermarks'))
    )
    op.create_table('tags',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('created_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tags')),
    sa.UniqueConstraint('name', name=op.f('uq_tags_name'))
    )
    op.create_table('agent_consciousness',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('agent_entity_id', sa.String(length=36), nullable=False),
    sa.Column('messages', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('cycle_count', sa.Integer(), nullable=False),
    sa.Column('token_estimate', sa.Integer(), nullable=False),
    sa.Column('last_cycle_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_entity_id'], ['entities.id'], name=op.f('fk_agent_consciousness_agent_entity_id_entities'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_consciousness')),
    sa.UniqueConstraint('agent_entity_id', name=op.f('uq_agent_consciousness_agent_entity_id'))
    )
    op.create_table('inbox_events',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('agent_entity_id', sa.String(length=36), nullable=False),
    sa.Column('event_id', sa.String(length=255), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('processed_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_entity_id'], ['entities.id'], name=op.f('fk_inbox_events_agent_entity_id_entities'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbox_events')),
    sa.UniqueConstraint('agent_entity_id', 'event_id', name=op.f('uq_inbox_events_agent_entity_id_event_id'))
    )
    op.create_table('taggings',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tag_id', sa.String(length=36), nullable=False),
    sa.Column('target_type', sa.String(length=64), nullable=False),
    sa.Column('target_id', sa.String(length=255), nullable=False),
    sa.Column('created_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tag_id'], ['tags.id'], name=op.f('fk_taggings_tag_id_tags'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_taggings')),
    sa.UniqueConstraint('tag_id', 'target_type', 'target_id', name=op.f('uq_taggings_tag_id_target_type_target_id'))
    )
    op.create_index('ix_taggings_target', 'taggings', ['target_type', 'target_id'], unique=False)
    op.create_table('users',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('email', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('entity_id', sa.String(length=36), nullable=True),
    sa.Column('created_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_users_entity_id_entities'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    op.create_table('events',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('actor_entity_id', sa.String(length=36), nullable=True),
    sa.Column('actor_user_id', sa.Integer(), nullable=True),
    sa.Column('subject_type', sa.String(length=64), nullable=False),
    sa.Column('subject_id', sa.String(length=255), nullable=False),
    sa.Column('before', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('after', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_entity_id'], ['entities.id'], name=op.f('fk_events_actor_entity_id_entities'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['actor_user_id'], ['users.id'], name=op.f('fk_events_actor_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events'))
    )
    op.create_index(op.f('ix_events_action'), 'events', ['action'], unique=False)
    op.create_index('ix_events_created_at', 'events', ['created_at'], unique=False)
    op.create_index('ix_events_subject', 'events', ['subject_type', 'subject_id', 'created_at'], unique=False)
    op.create_table('projects',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_projects_created_by_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_projects')),
    sa.UniqueConstraint('name', name=op.f('uq_projects_name'))
    )
    op.create_table('workspaces',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('owner_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_user_id'], ['users.id'], name=op.f('fk_workspaces_owner_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workspaces')),
    sa.UniqueConstraint('name', name=op.f('uq_workspaces_name'))
    )
    op.create_index(op.f('ix_workspaces_owner_user_id'), 'workspaces', ['owner_user_id'], unique=False)
    op.create_table('agent_configurations',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('workspace_id', sa.String(length=36), nullable=True),
    sa.Column('agent_definition_id', sa.String(length=64), nullable=False),
    sa.Column('entity_id', sa.String(length=36), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('yaml_config', sa.Text(), nullable=False),
    sa.Column('effective_config_cache', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('external_memory_namespace', sa.String(length=255), nullable=True),
    sa.Column('last_run_status', sa.Enum('idle', 'pending', 'running', 'success', 'error', 'cancelled', name='lastrunstatus', native_enum=False, create_constraint=True, length=17), nullable=True),
    sa.Column('last_run_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_run_id', sa.String(length=36), nullable=True),
    sa.Column('last_run_output_preview', sa.Text(), nullable=True),
    sa.Column('last_run_full_output_ref', sa.String(length=1024), nullable=True),
    sa.Column('status', sa.Enum('active', 'inactive', 'archived', name='agentconfigurationstatus', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('created_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_definition_id'], ['agent_definitions.id'], name=op.f('fk_agent_configurations_agent_definition_id_agent_definitions')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_agent_configurations_created_by_user_id_users')),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_agent_configurations_entity_id_entities'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_agent_configurations_workspace_id_workspaces')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_configurations')),
    sa.UniqueConstraint('name', name=op.f('uq_agent_configurations_name'))
    )
    op.create_index(op.f('ix_agent_configurations_agent_definition_id'), 'agent_configurations', ['agent_definition_id'], unique=False)
    op.create_index(op.f('ix_agent_configurations_created_by_user_id'), 'agent_configurations', ['created_by_user_id'], unique=False)
    op.create_index(op.f('ix_agent_configurations_status'), 'agent_configurations', ['status'], unique=False)
    op.create_index(op.f('ix_agent_configurations_workspace_id'), 'agent_configurations', ['workspace_id'], unique=False)
    op.create_table('plans',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('project_id', sa.String(length=36), nullable=True),
    sa.Column('memory_context_id', sa.String(length=36), nullable=True),
    sa.Column('status', sa.Enum('draft', 'active', 'completed', 'archived', name='planstatus', native_enum=False, create_constraint=True, length=17), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('updated_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_plans_created_by_user_id_users')),
    sa.ForeignKeyConstraint(['memory_context_id'], ['memory_contexts.id'], name=op.f('fk_plans_memory_context_id_memory_contexts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_plans_project_id_projects')),
    sa.ForeignKeyConstraint(['updated_by_user_id'], ['users.id'], name=op.f('fk_plans_updated_by_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plans'))
    )
    op.create_index(op.f('ix_plans_project_id'), 'plans', ['project_id'], unique=False)
    op.create_index(op.f('ix_plans_status'), 'plans', ['status'], unique=False)
    op.create_table('directives',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('agent_configuration_id', sa.String(length=36), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_configuration_id'], ['agent_configurations.id'], name=op.f('fk_directives_agent_configuration_id_agent_configurations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_directives_created_by_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_directives')),
    sa.UniqueConstraint('agent_configuration_id', 'version', name=op.f('uq_directives_agent_configuration_id_version'))
    )
    op.create_index(op.f('ix_directives_agent_configuration_id'), 'directives', ['agent_configuration_id'], unique=False)
    op.create_table('missions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('goal', sa.Text(), nullable=True),
    sa.Column('success_criteria', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('status', sa.Enum('proposed', 'ready_for_next_hop', 'building_hop', 'hop_ready_to_execute', 'executing_hop', 'completed', 'failed', 'cancelled', name='missionstatus', native_enum=False, create_constraint=True, length=28), nullable=False),
    sa.Column('current_hop_id', sa.String(length=36), nullable=True),
    sa.Column('mission_metadata', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('agent_configuration_id', sa.String(length=36), nullable=True),
    sa.Column('flow_run_id', sa.String(length=36), nullable=True),
    sa.Column('started_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('completed_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_configuration_id'], ['agent_configurations.id'], name=op.f('fk_missions_agent_configuration_id_agent_configurations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_missions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_missions'))
    )
    op.create_index(op.f('ix_missions_agent_configuration_id'), 'missions', ['agent_configuration_id'], unique=False)
    op.create_index(op.f('ix_missions_flow_run_id'), 'missions', ['flow_run_id'], unique=False)
    op.create_index(op.f('ix_missions_status'), 'missions', ['status'], unique=False)
    op.create_index(op.f('ix_missions_user_id'), 'missions', ['user_id'], unique=False)
    op.create_table('plan_tasks',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('status', sa.Enum('open', 'in_progress', 'completed', 'blocked', name='plantaskstatus', native_enum=False, create_constraint=True, length=19), nullable=False),
    sa.Column('plan_id', sa.String(length=36), nullable=True),
    sa.Column('project_id', sa.String(length=36), nullable=True),
    sa.Column('assigned_to_entity_id', sa.String(length=36), nullable=True),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('estimated_effort', sa.String(length=64), nullable=True),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.Column('due_date', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assigned_to_entity_id'], ['entities.id'], name=op.f('fk_plan_tasks_assigned_to_entity_id_entities')),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_plan_tasks_plan_id_plans'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_plan_tasks_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_tasks'))
    )
    op.create_index(op.f('ix_plan_tasks_assigned_to_entity_id'), 'plan_tasks', ['assigned_to_entity_id'], unique=False)
    op.create_index(op.f('ix_plan_tasks_due_date'), 'plan_tasks', ['due_date'], unique=False)
    op.create_index(op.f('ix_plan_tasks_plan_id'), 'plan_tasks', ['plan_id'], unique=False)
    op.create_index(op.f('ix_plan_tasks_project_id'), 'plan_tasks', ['project_id'], unique=False)
    op.create_index(op.f('ix_plan_tasks_status'), 'plan_tasks', ['status'], unique=False)
    op.create_table('playbooks',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('agent_definition_id', sa.String(length=64), nullable=True),
    sa.Column('agent_configuration_id', sa.String(length=36), nullable=True),
    sa.Column('workspace_id', sa.String(length=36), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('trigger_event_type', sa.String(length=255), nullable=True),
    sa.Column('steps', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('created_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_configuration_id'], ['agent_configurations.id'], name=op.f('fk_playbooks_agent_configuration_id_agent_configurations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['agent_definition_id'], ['agent_definitions.id'], name=op.f('fk_playbooks_agent_definition_id_agent_definitions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_playbooks_workspace_id_workspaces')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_playbooks'))
    )
    op.create_index(op.f('ix_playbooks_agent_configuration_id'), 'playbooks', ['agent_configuration_id'], unique=False)
    op.create_index(op.f('ix_playbooks_agent_definition_id'), 'playbooks', ['agent_definition_id'], unique=False)
    op.create_index(op.f('ix_playbooks_workspace_id'), 'playbooks', ['workspace_id'], unique=False)
    op.create_table('tool_allowlist',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('agent_configuration_id', sa.String(length=36), nullable=False),
    sa.Column('tool_id', sa.String(length=255), nullable=False),
    sa.Column('container_id', sa.String(length=255), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_configuration_id'], ['agent_configurations.id'], name=op.f('fk_tool_allowlist_agent_configuration_id_agent_configurations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tool_allowlist')),
    sa.UniqueConstraint('agent_configuration_id', 'tool_id', name=op.f('uq_tool_allowlist_agent_configuration_id_tool_id'))
    )
    op.create_table('agent_run_logs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('run_id', sa.String(length=36), nullable=False),
    sa.Column('flow_name', sa.String(length=255), nullable=True),
    sa.Column('deployment_id', sa.String(length=36), nullable=True),
    sa.Column('agent_configuration_id', sa.String(length=36), nullable=True),
    sa.Column('agent_entity_id', sa.String(length=36), nullable=True),
    sa.Column('mission_id', sa.String(length=36), nullable=True),
    sa.Column('parent_run_id', sa.String(length=36), nullable=True),
    sa.Column('triggered_by_user_id', sa.Integer(), nullable=True),
    sa.Column('trigger_type', sa.Enum('manual', 'schedule', 'webhook', 'command', 'event', 'api', name='triggertype', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('status', sa.Enum('pending', 'running', 'success', 'error', 'cancelled', name='runstatus', native_enum=False, create_constraint=True, length=17), nullable=False),
    sa.Column('prefect_state', sa.String(length=32), nullable=True),
    sa.Column('start_time', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('end_time', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('input_params_snapshot', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('output_preview', sa.Text(), nullable=True),
    sa.Column('full_output_ref', sa.String(length=1024), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('logs_ref', sa.String(length=1024), nullable=True),
    sa.Column('cycle_number', sa.Integer(), nullable=False),
    sa.Column('inbox_event_count', sa.Integer(), nullable=False),
    sa.Column('step_count', sa.Integer(), nullable=False),
    sa.Column('prompt_tokens', sa.Integer(), nullable=False),
    sa.Column('completion_tokens', sa.Integer(), nullable=False),
    sa.Column('directive_id', sa.String(length=36), nullable=True),
    sa.Column('directive_snapshot', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('window_start', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('window_end', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_configuration_id'], ['agent_configurations.id'], name=op.f('fk_agent_run_logs_agent_configuration_id_agent_configurations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['agent_entity_id'], ['entities.id'], name=op.f('fk_agent_run_logs_agent_entity_id_entities'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['directive_id'], ['directives.id'], name=op.f('fk_agent_run_logs_directive_id_directives'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['mission_id'], ['missions.id'], name=op.f('fk_agent_run_logs_mission_id_missions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['triggered_by_user_id'], ['users.id'], name=op.f('fk_agent_run_logs_triggered_by_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_run_logs')),
    sa.UniqueConstraint('run_id', name=op.f('uq_agent_run_logs_run_id'))
    )
    op.create_index(op.f('ix_agent_run_logs_mission_id'), 'agent_run_logs', ['mission_id'], unique=False)
    op.create_index(op.f('ix_agent_run_logs_parent_run_id'), 'agent_run_logs', ['parent_run_id'], unique=False)
    op.create_index('ix_agent_run_logs_since_success', 'agent_run_logs', ['agent_configuration_id', 'status', 'end_time'], unique=False)
    op.create_index('ix_agent_run_logs_start_time', 'agent_run_logs', ['start_time'], unique=False)
    op.create_table('hops',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('mission_id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('sequence_order', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('goal', sa.Text(), nullable=True),
    sa.Column('success_criteria', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('rationale', sa.Text(), nullable=True),
    sa.Column('status', sa.Enum('proposed', 'ready_to_resolve', 'ready_to_execute', 'executing', 'completed', 'failed', 'cancelled', name='hopstatus', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('is_final', sa.Boolean(), nullable=False),
    sa.Column('is_resolved', sa.Boolean(), nullable=False),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('hop_metadata', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('task_run_id', sa.String(length=36), nullable=True),
    sa.Column('started_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('completed_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['mission_id'], ['missions.id'], name=op.f('fk_hops_mission_id_missions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_hops_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hops')),
    sa.UniqueConstraint('mission_id', 'sequence_order', name=op.f('uq_hops_mission_id_sequence_order'))
    )
    op.create_index(op.f('ix_hops_mission_id'), 'hops', ['mission_id'], unique=False)
    # missions.current_hop_id and hops.mission_id point at each other: the first FK comes last.
    with op.batch_alter_table('missions', schema=None) as batch_op:
        batch_op.create_foreign_key(op.f('fk_missions_current_hop_id_hops'), 'hops', ['current_hop_id'], ['id'], ondelete='SET NULL')
    op.create_table('reflections',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('raw_summary', sa.Text(), nullable=True),
    sa.Column('llm_summary', sa.Text(), nullable=True),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('important', sa.Boolean(), nullable=False),
    sa.Column('mood', sa.String(length=64), nullable=True),
    sa.Column('mission_id', sa.String(length=36), nullable=True),
    sa.Column('created_by_entity_id', sa.String(length=36), nullable=True),
    sa.Column('created_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_entity_id'], ['entities.id'], name=op.f('fk_reflections_created_by_entity_id_entities')),
    sa.ForeignKeyConstraint(['mission_id'], ['missions.id'], name=op.f('fk_reflections_mission_id_missions'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reflections'))
    )
    op.create_index(op.f('ix_reflections_mission_id'), 'reflections', ['mission_id'], unique=False)
    op.create_table('reflection_memories',
    sa.Column('reflection_id', sa.String(length=36), nullable=False),
    sa.Column('memory_context_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['memory_context_id'], ['memory_contexts.id'], name=op.f('fk_reflection_memories_memory_context_id_memory_contexts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reflection_id'], ['reflections.id'], name=op.f('fk_reflection_memories_reflection_id_reflections'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('reflection_id', 'memory_context_id', name=op.f('pk_reflection_memories'))
    )
    op.create_table('run_artifacts',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('run_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.Enum('log', 'report', 'output', name='runartifactkind', native_enum=False, create_constraint=True, length=14), nullable=False),
    sa.Column('path', sa.String(length=1024), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('created_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['agent_run_logs.run_id'], name=op.f('fk_run_artifacts_run_id_agent_run_logs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_run_artifacts')),
    sa.UniqueConstraint('run_id', 'path', name=op.f('uq_run_artifacts_run_id_path'))
    )
    op.create_index(op.f('ix_run_artifacts_run_id'), 'run_artifacts', ['run_id'], unique=False)
    op.create_table('tool_steps',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('hop_id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('tool_id', sa.String(length=255), nullable=False),
    sa.Column('sequence_order', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('status', sa.Enum('proposed', 'ready_to_configure', 'ready_to_execute', 'executing', 'completed', 'failed', 'cancelled', name='toolexecutionstatus', native_enum=False, create_constraint=True, length=26), nullable=False),
    sa.Column('parameter_mapping', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('result_mapping', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('resource_configs', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('validation_errors', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('execution_result', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('task_run_id', sa.String(length=36), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('started_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('completed_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['hop_id'], ['hops.id'], name=op.f('fk_tool_steps_hop_id_hops'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_tool_steps_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tool_steps')),
    sa.UniqueConstraint('hop_id', 'sequence_order', name=op.f('uq_tool_steps_hop_id_sequence_order'))
    )
    op.create_index(op.f('ix_tool_steps_hop_id'), 'tool_steps', ['hop_id'], unique=False)
    op.create_table('assets',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('scope_type', sa.Enum('mission', 'hop', name='assetscopetype', native_enum=False, create_constraint=True, length=15), nullable=False),
    sa.Column('scope_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('type', sa.String(length=255), nullable=False),
    sa.Column('subtype', sa.String(length=255), nullable=True),
    sa.Column('status', sa.Enum('proposed', 'pending', 'in_progress', 'ready', 'error', 'expired', name='assetstatus', native_enum=False, create_constraint=True, length=19), nullable=False),
    sa.Column('role', sa.Enum('input', 'output', 'intermediate', name='assetrole', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('content', sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True, astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('content_summary', sa.Text(), nullable=True),
    sa.Column('content_ref', sa.String(length=1024), nullable=True),
    sa.Column('size_bytes', sa.BigInteger(), nullable=True),
    sa.Column('db_entity_metadata', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('asset_metadata', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('produced_by_step_id', sa.String(length=36), nullable=True),
    sa.Column('created_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['produced_by_step_id'], ['tool_steps.id'], name=op.f('fk_assets_produced_by_step_id_tool_steps'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_assets_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assets')),
    sa.UniqueConstraint('scope_type', 'scope_id', 'name', name='uq_assets_scope_name')
    )
    op.create_index('idx_assets_role', 'assets', ['role'], unique=False)
    op.create_index('idx_assets_scope', 'assets', ['scope_type', 'scope_id'], unique=False)
    op.create_index('idx_assets_status', 'assets', ['status'], unique=False)
    op.create_index(op.f('ix_assets_produced_by_step_id'), 'assets', ['produced_by_step_id'], unique=False)
    op.create_table('faults',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('plan_task_id', sa.String(length=36), nullable=True),
    sa.Column('mission_id', sa.String(length=36), nullable=True),
    sa.Column('tool_step_id', sa.String(length=36), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('open', 'fixed', name='faultstatus', native_enum=False, create_constraint=True, length=13), nullable=False),
    sa.Column('severity', sa.Enum('low', 'medium', 'high', 'critical', name='faultseverity', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('assigned_to_entity_id', sa.String(length=36), nullable=True),
    sa.Column('created_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assigned_to_entity_id'], ['entities.id'], name=op.f('fk_faults_assigned_to_entity_id_entities')),
    sa.ForeignKeyConstraint(['mission_id'], ['missions.id'], name=op.f('fk_faults_mission_id_missions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['plan_task_id'], ['plan_tasks.id'], name=op.f('fk_faults_plan_task_id_plan_tasks'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tool_step_id'], ['tool_steps.id'], name=op.f('fk_faults_tool_step_id_tool_steps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_faults'))
    )
    op.create_index(op.f('ix_faults_mission_id'), 'faults', ['mission_id'], unique=False)
    op.create_index(op.f('ix_faults_status'), 'faults', ['status'], unique=False)
    op.create_index(op.f('ix_faults_tool_step_id'), 'faults', ['tool_step_id'], unique=False)
    op.create_table('llm_calls',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('flow_run_id', sa.String(length=36), nullable=True),
    sa.Column('mission_id', sa.String(length=36), nullable=True),
    sa.Column('tool_step_id', sa.String(length=36), nullable=True),
    sa.Column('agent_configuration_id', sa.String(length=36), nullable=True),
    sa.Column('provider', sa.String(length=64), nullable=False),
    sa.Column('model', sa.String(length=128), nullable=False),
    sa.Column('prompt_slug', sa.String(length=255), nullable=True),
    sa.Column('prompt_title', sa.String(length=255), nullable=True),
    sa.Column('purpose', sa.String(length=255), nullable=True),
    sa.Column('used_by', sa.String(length=255), nullable=True),
    sa.Column('prompt_tokens', sa.Integer(), nullable=False),
    sa.Column('completion_tokens', sa.Integer(), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('storage_mode', sa.String(length=16), nullable=False),
    sa.Column('prompt_chars', sa.Integer(), nullable=True),
    sa.Column('output_chars', sa.Integer(), nullable=True),
    sa.Column('prompt_sha256', sa.String(length=64), nullable=True),
    sa.Column('output_sha256', sa.String(length=64), nullable=True),
    sa.Column('prompt_text', sa.Text(), nullable=True),
    sa.Column('output_text', sa.Text(), nullable=True),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('extra_data', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_configuration_id'], ['agent_configurations.id'], name=op.f('fk_llm_calls_agent_configuration_id_agent_configurations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_llm_calls_created_by_user_id_users')),
    sa.ForeignKeyConstraint(['mission_id'], ['missions.id'], name=op.f('fk_llm_calls_mission_id_missions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tool_step_id'], ['tool_steps.id'], name=op.f('fk_llm_calls_tool_step_id_tool_steps'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_llm_calls'))
    )
    op.create_index(op.f('ix_llm_calls_agent_configuration_id'), 'llm_calls', ['agent_configuration_id'], unique=False)
    op.create_index(op.f('ix_llm_calls_flow_run_id'), 'llm_calls', ['flow_run_id'], unique=False)
    op.create_index(op.f('ix_llm_calls_mission_id'), 'llm_calls', ['mission_id'], unique=False)
    op.create_index(op.f('ix_llm_calls_model'), 'llm_calls', ['model'], unique=False)
    op.create_index(op.f('ix_llm_calls_prompt_slug'), 'llm_calls', ['prompt_slug'], unique=False)
    op.create_index(op.f('ix_llm_calls_used_by'), 'llm_calls', ['used_by'], unique=False)
    op.create_table('thought_logs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('entity_id', sa.String(length=36), nullable=False),
    sa.Column('thought', sa.Text(), nullable=False),
    sa.Column('thought_trace', sa.Text(), nullable=True),
    sa.Column('stage', sa.String(length=64), nullable=True),
    sa.Column('tool_step_id', sa.String(length=36), nullable=True),
    sa.Column('memory_context_id', sa.String(length=36), nullable=True),
    sa.Column('created_at', hopflow.models.orm.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_thought_logs_entity_id_entities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['memory_context_id'], ['memory_contexts.id'], name=op.f('fk_thought_logs_memory_context_id_memory_contexts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tool_step_id'], ['tool_steps.id'], name=op.f('fk_thought_logs_tool_step_id_tool_steps'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_thought_logs'))
    )
    op.create_index('ix_thought_logs_entity_created', 'thought_logs', ['entity_id', 'created_at'], unique=False)


def downgrade() -> None:
    # missions.current_hop_id and hops.mission_id point at each other: that FK goes first. Dropping
    # a table drops its indexes; the tables go in the reverse of the order upgrade() created them.
    with op.batch_alter_table('missions', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('fk_missions_current_hop_id_hops'), type_='foreignkey')
    for table in reversed(CREATED):
        op.drop_table(table)
