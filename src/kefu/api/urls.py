from ninja import NinjaAPI

api = NinjaAPI(title="kefu API", version="1", urls_namespace="api")


@api.get("/ping", tags=["meta"], auth=None)
def ping(request):
    return {"ok": True}
