"""Read models behind the commands that only look (status, list, show, versions, outdated,
prune's keep-set): computed from local state, never from the network.

Layer: beside health, above runtime.
"""
