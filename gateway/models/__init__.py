"""The bodies the REST routes answer, as pydantic models: FastAPI checks each answer against its route's model
and ``/docs`` shows them. One module per router; each model spells exactly the JSON the route's converter
(``gateway.convert``, the routers' ``*_json``) builds, no field more or less (``extra="forbid"``: a key the
model does not know is an error, never silently dropped).
"""
