"""The staff loop: what people do with the work careflow makes for them.

- `tasks.py`: a task's lifecycle (open -> assigned or claimed -> done with an outcome,
  or cancelled), reassignment, overdue; each action audited, and the journey that
  opened the task told how it ended.
- `complaints.py`: a complaint's first response by staff, which stops its response
  clock, and resolving a complaint on staff's word.

The API (`careflow/api/staff.py`), the console (`careflow/console/staff_actions.py`)
and the CLI (`careflow tasks`) all act through these functions, so each action means
the same wherever it comes from.
"""
