"""kefu's URLs plus the bare baseline views the benchmark compares against.

- ``/bench/bare/read/<id>``: one indexed query (a case by primary key), returned as JSON.
- ``/bench/bare/write``: one insert into a one-table scratch table, then one indexed query, as JSON.
Both pass through the same middleware as kefu's own views and use no authentication.
"""

from django.db import connection, transaction
from django.http import JsonResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from kefu.config.urls import urlpatterns as kefu_urlpatterns

SCRATCH_TABLE = "bench_bare_insert"


def bare_read(request, case_id: int):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, subject, status, priority, updated_at FROM cases_case WHERE id = %s", [case_id]
        )
        row = cursor.fetchone()
    if row is None:
        return JsonResponse({"detail": "not found"}, status=404)
    return JsonResponse({"id": row[0], "subject": row[1], "status": row[2], "priority": row[3],
                         "updated_at": str(row[4])})


@csrf_exempt
def bare_write(request):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {SCRATCH_TABLE} (body, created_at) VALUES (%s, %s)",
                       [request.body.decode("utf-8", "replace")[:500], timezone.now()])
        cursor.execute(f"SELECT max(id) FROM {SCRATCH_TABLE}")
        new_id = cursor.fetchone()[0]
    return JsonResponse({"id": new_id}, status=201)


urlpatterns = [
    path("bench/bare/read/<int:case_id>", bare_read),
    path("bench/bare/write", bare_write),
    *kefu_urlpatterns,
]
