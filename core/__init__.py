"""DaiHoi core: app factory, configuration, database, accounts, plugins, realtime, audit, CLI."""
