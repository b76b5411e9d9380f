from flask import Blueprint

from core.event_context import EventBlueprint

bp = EventBlueprint("voting", __name__, module="voting", url_prefix="/voting")
assets = Blueprint("voting_assets", __name__, static_folder="static", static_url_path="/modules/voting/static")
