"""The pipeline stages' pure functions, one module per stage, all `(StageInput) -> dict`.

Each module is imported only by the worker that runs its stage (the registry in
`app/stages.py` names them as "module:function"), so a risk worker never loads the
MILP solver. Results are plain JSON-able dicts: the farm stores them between stages.
"""

from planning.stages.input import StageInput, domain_library

__all__ = ["StageInput", "domain_library"]
