from django.db import migrations

TYPES = [
    ("inquiry", "咨询", "Inquiry", False),
    ("complaint", "投诉", "Complaint", True),
    ("return", "退货", "Return", False),
    ("refund", "退款", "Refund", False),
    ("exchange", "换货", "Exchange", False),
    ("after_sale", "售后服务", "After-sale service", False),
    ("suggestion", "建议", "Suggestion", False),
    ("praise", "表扬", "Praise", False),
]


def forwards(apps, schema_editor):
    CaseType = apps.get_model("cases", "CaseType")
    for position, (code, name, name_en, is_complaint) in enumerate(TYPES, start=1):
        CaseType.objects.get_or_create(
            code=code,
            defaults={"name": name, "name_en": name_en, "is_complaint": is_complaint, "position": position},
        )


class Migration(migrations.Migration):
    dependencies = [("cases", "0002_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
