"""Water: river and canal level, flow and water quality probes."""

from citydata.kinds import Kind, Metric

KIND = Kind(
    name="water",
    title_en="Water",
    title_th="น้ำ",
    description="Water station: level gauge and quality probe",
    offline_after_s=1800.0,  # 30 min: gauges report every 1-10 min
    metrics=(
        Metric(
            "level",
            "m",
            -50,
            100,
            "Water level above the station datum (m MSL by default)",
            title_th="ระดับน้ำ",
        ),
        # Tidal reaches flow both ways, so flow may be negative.
        Metric("flow", "m³/s", -20_000, 100_000, "Discharge", title_th="อัตราการไหล"),
        Metric("do", "mg/L", 0, 25, "Dissolved oxygen", title_th="ออกซิเจนละลายน้ำ"),
        Metric("ph", "", 0, 14, "pH", title_th="ความเป็นกรด-ด่าง"),
        Metric("temperature", "°C", -5, 60, "Water temperature", title_th="อุณหภูมิน้ำ"),
        Metric("turbidity", "NTU", 0, 4000, "Turbidity", title_th="ความขุ่น"),
        Metric(
            "conductivity", "µS/cm", 0, 200_000, "Electrical conductivity", title_th="การนำไฟฟ้า"
        ),
        Metric("nh3n", "mg/L", 0, 100, "Ammonia nitrogen", title_th="แอมโมเนีย-ไนโตรเจน"),
    ),
)
