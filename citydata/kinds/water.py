"""Water: river and canal level, flow and water quality probes."""

from citydata.kinds import Kind, Metric

KIND = Kind(
    name="water",
    description="Water station: level gauge and quality probe",
    offline_after_s=1800.0,  # 30 min: gauges report every 1-10 min
    metrics=(
        Metric("level", "m", -50, 100, "Water level above the station datum (m MSL by default)"),
        # Tidal reaches flow both ways, so flow may be negative.
        Metric("flow", "m³/s", -20_000, 100_000, "Discharge"),
        Metric("do", "mg/L", 0, 25, "Dissolved oxygen"),
        Metric("ph", "", 0, 14, "pH"),
        Metric("temperature", "°C", -5, 60, "Water temperature"),
        Metric("turbidity", "NTU", 0, 4000, "Turbidity"),
        Metric("conductivity", "µS/cm", 0, 200_000, "Electrical conductivity"),
        Metric("nh3n", "mg/L", 0, 100, "Ammonia nitrogen"),
    ),
)
