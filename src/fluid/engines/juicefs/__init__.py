"""The JuiceFS engine: cache workers (StatefulSet ``<name>-worker``) and FUSE clients
(DaemonSet ``<name>-fuse``) for a JuiceFSRuntime, community or enterprise edition.

``manifests`` renders the objects (pure), ``ops`` runs commands in JuiceFS pods,
``engine`` drives the lifecycle for the generic runtime controller. Credentials
(``encryptOptions``) only ever travel as Secret references.
"""
