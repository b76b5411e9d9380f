"""Every hook a DaiHoi plugin can implement, in one place.

A module (built-in under plugins/ or a third-party package) registers under the
`daihoi.plugins` entry point and implements any of these with `@hookimpl`. Hooks that draw an
event's pages and state (menu, widgets, scripts, realtime state, stats) are delivered only to
the modules switched on for that event (see `core.plugins.event_hook`), so a module never has
to check that itself. Lifecycle hooks (event created, module switched on or off, demo data)
reach every plugin. Each hook here must have a docstring and a test (tests/test_hookspecs.py
fails otherwise).
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("daihoi")


@hookspec
def daihoi_modules():
    """Declare the event modules this plugin provides.

    Return a list of `core.plugins.ModuleInfo` (name, title, description, depends). The name is
    the module's key in URLs (`/<unit>/<event>/<name>/`) and in the event's module switches;
    `depends` names modules that must be on for this one to be on (voting needs delegates).
    """


@hookspec
def daihoi_blueprints():
    """Return Flask blueprints to register on the app.

    Event pages should use `core.event_context.EventBlueprint`, which resolves the event from
    the URL, answers 404 to anyone without a role in it and 404 when the module is off — the
    one guard every event route passes through.
    """


@hookspec
def daihoi_permissions():
    """Return a dict mapping permission names ("announcements.post") to the roles holding them.

    Views check them with `core.event_context.require_permission`. The organiser holds every
    permission.
    """


@hookspec
def daihoi_socket_handlers():
    """Return a list of `core.realtime.SocketHandler` for Socket.IO events this module answers.

    Each handler receives `(ctx, payload)` where ctx carries the resolved event, the caller
    and their roles; the core guard has already refused callers without access to the event
    named in `payload["event"]` and events where the module is off. The return value is the
    acknowledgement sent to the client.
    """


@hookspec
def daihoi_event_menu_items(event, roles):
    """Return menu entries `core.plugins.MenuItem` for the event's navigation.

    `roles` is the set of the viewer's roles in the event; return only entries they may use.
    Called only for modules switched on for the event.
    """


@hookspec
def daihoi_dashboard_widgets(event, roles):
    """Return `core.plugins.Widget` boxes for the event's home page.

    A widget names a template and its context. Called only for modules switched on for the event.
    """


@hookspec
def daihoi_realtime_state(event, roles):
    """Return a dict to merge into the full state a client receives on every (re)connect.

    Socket.IO delivers at most once, so a client that reconnects must be able to redraw from
    this alone. Key the dict by the module's name. Called only for enabled modules.
    """


@hookspec
def daihoi_event_stats(event):
    """Return aggregate figures `{label: number}` of an event for the read-only upward view.

    Upper levels of the union see only these figures for the events of the units below them,
    never the records behind them. Called only for enabled modules.
    """


@hookspec
def daihoi_event_created(event, actor):
    """Called when a new event is created, in the same transaction (so a failure undoes both).

    `actor` is the creating user, or None for the command line. Reaches every plugin: a module
    that wants to prepare something for new events does it here.
    """


@hookspec
def daihoi_module_enabled(event, module, actor):
    """Called after `module` (its name) is switched on for `event`, in the same transaction."""


@hookspec
def daihoi_module_disabled(event, module, actor):
    """Called after `module` (its name) is switched off for `event`, in the same transaction."""


@hookspec
def daihoi_demo_data(event, accounts):
    """Add this module's demo content to the demo congress `event`.

    `accounts` maps demo role names to the demo users, so a module can author content as them.
    Called by `daihoi demo` for every module the demo switches on.
    """


@hookspec
def daihoi_migration_locations():
    """Return folders of Alembic revision scripts for this plugin's own tables.

    Built-in modules may keep their tables in core's history; a third-party plugin ships its
    own branch (with `depends_on` the core head) and lists its folder here.
    """


@hookspec
def daihoi_page_scripts(event, roles):
    """Return URLs of scripts an event's live pages load after the realtime client.

    A module's script subscribes with `DaiHoi.onState(fn)` and `DaiHoi.on(name, fn)` to draw
    its part of the page from the full state and from live updates. Called only for enabled
    modules.
    """


@hookspec
def daihoi_projector_panels(event):
    """Return `core.plugins.Widget` panels for the hall screen (`/<unit>/<event>/projector`).

    The screen is public to the hall: a panel shows only what everyone in the room may see,
    in large type. It draws itself live from the module's page script. Called only for
    modules switched on for the event.
    """


@hookspec
def daihoi_delegate_checked_in(event, delegate, session, method):
    """Called when a person becomes present in a session's check-in list.

    `delegate` is the delegates module's record (a delegate or a guest), `session` the
    `EventSession`, `method` one of "badge", "self", "manual". It runs inside the scan's
    transaction, before commit, at up to hundreds of calls a second: keep it short and never
    publish from it directly (use `core.realtime.publish_after_commit`). A repeated scan of
    someone already present, and a re-entry after leaving, do not call it again; an entry
    after an undo does. Called only for modules switched on for the event.
    """


@hookspec
def daihoi_document_panels(event, document, roles):
    """Return `core.plugins.Widget` panels shown under a document on its reader page.

    `document` is the documents module's record, which the viewer (`roles`) may read; the forum
    shows its comments on the document here. Called only for modules switched on for the event.
    """
