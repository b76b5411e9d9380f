"""The app for a production WSGI server: `gunicorn -c deploy/gunicorn.conf.py wsgi:app`.

Configuration comes from the DAIHOI_ environment (core/config.py); docs/deploy.md.
"""

from core.app import create_app

app = create_app()
