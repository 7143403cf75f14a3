"""Data operations: DataLoad, DataBackup, DataMigrate and DataProcess, and DataFlow.

``framework`` is the state machine they share, ``flow`` the runAfter/affinity decisions,
``lock`` the per-dataset lock, ``jobs`` the Jobs they run, ``loaders`` what each runtime
runs in them; ``load``, ``backup``, ``migrate`` and ``process`` are the four kinds, each a
controller registered in ``fluid.controllers.CONTROLLERS``. See docs/dataops.md.
"""
