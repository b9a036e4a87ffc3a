"""Traffic: per-interval counts, speed and occupancy from a point detector."""

from citydata.kinds import Kind, Metric

KIND = Kind(
    name="traffic",
    title_en="Traffic",
    title_th="การจราจร",
    description="Traffic detector: one lane or direction per interval",
    offline_after_s=2700.0,  # 45 min: three missed 15-minute intervals
    metrics=(
        Metric("count", "vehicles", 0, 100_000, "Vehicles in the interval", title_th="จำนวนรถ"),
        Metric(
            "interval_s", "s", 1, 86_400, "Length of the counting interval", title_th="ช่วงเวลานับ"
        ),
        Metric("speed", "km/h", 0, 300, "Mean speed", title_th="ความเร็วเฉลี่ย"),
        Metric(
            "occupancy",
            "%",
            0,
            100,
            "Share of time the detection zone is occupied",
            title_th="อัตราการครอบครองช่องจราจร",
        ),
        Metric(
            "motorcycle",
            "vehicles",
            0,
            100_000,
            "Motorcycles in the interval",
            title_th="รถจักรยานยนต์",
        ),
        Metric("car", "vehicles", 0, 100_000, "Cars in the interval", title_th="รถยนต์"),
        Metric("bus", "vehicles", 0, 100_000, "Buses in the interval", title_th="รถโดยสาร"),
        Metric("truck", "vehicles", 0, 100_000, "Trucks in the interval", title_th="รถบรรทุก"),
    ),
)
