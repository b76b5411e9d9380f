from core.event_context import EventBlueprint

bp = EventBlueprint("voting_reports", __name__, module="voting", url_prefix="/voting")
