"""The reconcile framework: informers, work queues, controllers, a manager with leader election.

It knows nothing of Fluid's kinds, as controller-runtime knows nothing of its users.
"""

from fluid.reconcile.controller import (
    Controller,
    Reconciler,
    Request,
    Result,
    TerminalError,
    annotations_changed,
    generation_changed,
    labels_changed,
    owner_mapper,
)
from fluid.reconcile.informer import EventHandler, Informer, strip_managed_fields
from fluid.reconcile.leaderelection import LeaderElectionConfig, LeaderElector
from fluid.reconcile.manager import LeadershipLost, Manager, ManagerConfig
from fluid.reconcile.store import Store, key_of, split_key
from fluid.reconcile.workqueue import RateLimitingQueue, ShutDown

__all__ = [
    "Controller",
    "EventHandler",
    "Informer",
    "LeaderElectionConfig",
    "LeaderElector",
    "LeadershipLost",
    "Manager",
    "ManagerConfig",
    "RateLimitingQueue",
    "Reconciler",
    "Request",
    "Result",
    "ShutDown",
    "Store",
    "TerminalError",
    "annotations_changed",
    "generation_changed",
    "key_of",
    "labels_changed",
    "owner_mapper",
    "split_key",
    "strip_managed_fields",
]
