"""Child process of the SIGKILL tests: run the kill agent under a chosen execution id."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from workbench.runtime import AgentSpec, StepEvent, run


def main() -> None:
    spec_path, execution_id = sys.argv[1], sys.argv[2]
    marker = os.environ.get("WB_MARKER")

    def on_event(event: StepEvent) -> None:
        # Emitted after the tool result is journaled and before the node's checkpoint.
        if (
            os.environ.get("WB_KILL_POINT") == "between"
            and event.type == "tool"
            and event.step == 1
        ):
            assert marker
            Path(marker).write_text("between")
            time.sleep(30)

    result = run(
        AgentSpec.from_yaml(spec_path),
        "send the emails",
        execution_id=execution_id,
        on_event=on_event,
    )
    print(json.dumps(result.summary()))


if __name__ == "__main__":
    main()
