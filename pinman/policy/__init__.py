"""Policy: what pinman does about a verified failure, and when a channel may move forward.

The least change that works, composed from the layers below: a cheap client switch that drops
exactly the field the endpoint rejects (measured offline for that version with the recording proxy,
then verified against the endpoint), else the verified rollback, else, if the profile allows it, a
costly switch; and for a guarded channel, promotion of a newer release only after it passed here.

Layer: above fingerprint, team, health and views; only autopilot and the CLI import it.
"""
