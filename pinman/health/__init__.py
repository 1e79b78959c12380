"""Health: probes of the real client (cli, http, sdk), the classifier, the verified
check/rollback/recovery policy, and `doctor`.

* `result`, `cli_probe`, `http_probe`, `sdk_probe`: one probe each, and what a probe returns.
* `outcome`, `classify_rules`, `classify`: the table-driven classifier (pure).
* `prober`, `rollback`, `recovery`, `manual`, `report`: the policy and what it reports.
* `doctor`: what would undo the pin.

Layer: beside views, above runtime.
"""
