from django.db import migrations

GRADES = [
    ("A", "A 级(核心客户)", "A (key customer)", 1, "贡献、影响力和潜力最高的客户。"),
    ("B", "B 级(重要客户)", "B (important customer)", 2, "贡献或潜力较高的客户。"),
    ("C", "C 级(普通客户)", "C (regular customer)", 3, "一般客户。"),
    ("D", "D 级(潜在客户)", "D (prospect)", 4, "新客户或低频客户。"),
]


def forwards(apps, schema_editor):
    Grade = apps.get_model("customers", "Grade")
    for code, name, name_en, rank, description in GRADES:
        Grade.objects.get_or_create(
            code=code, defaults={"name": name, "name_en": name_en, "rank": rank, "description": description}
        )


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
