"""Where Nextflow keeps a run's resume cache: one rule for the executors and the orchestrator.

Nextflow 24.04.4 accepts the cloud cache (``NXF_CLOUDCACHE_PATH``) only on ``gs://``, ``s3://`` and ``az://``
paths (``modules/nextflow/src/main/groovy/nextflow/Session.groovy``, ``cloudCachePath``: "Storage path not
supported by Cloud-cache"). On a local work dir the default cache store is moved next to the work dir with
``NXF_CACHE_DIR`` (``nf-commons/src/main/nextflow/Const.groovy``, ``getAppCacheDir``: it holds ``cache/<session>/``
and the ``history`` file), where a recovery in the same work dir finds it.
"""

from __future__ import annotations

CLOUD_CACHE_SCHEMES = ("gs://", "s3://", "az://")
CLOUD_CACHE_VARIABLE = "NXF_CLOUDCACHE_PATH"
LOCAL_CACHE_VARIABLE = "NXF_CACHE_DIR"


def cache_variable_for(cache_uri: str) -> str:
    """``NXF_CLOUDCACHE_PATH`` for object storage, ``NXF_CACHE_DIR`` for a local directory."""
    return CLOUD_CACHE_VARIABLE if cache_uri.startswith(CLOUD_CACHE_SCHEMES) else LOCAL_CACHE_VARIABLE
