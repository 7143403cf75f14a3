"""The Alluxio engine: ``manifests`` (objects rendered), ``ops`` (master commands), ``engine``."""
