"""Air quality: particulates and gases (Thai AQI pollutants) plus temperature and humidity."""

from citydata.kinds import Kind, Metric

KIND = Kind(
    name="air",
    description="Air-quality station: PM, gases, weather",
    offline_after_s=1800.0,  # 30 min: low-cost stations report every 1-5 min
    metrics=(
        Metric("pm25", "µg/m³", 0, 1000, "PM2.5 mass concentration"),
        Metric("pm10", "µg/m³", 0, 2000, "PM10 mass concentration"),
        Metric("o3", "ppb", 0, 1000, "Ozone"),
        Metric("no2", "ppb", 0, 2000, "Nitrogen dioxide"),
        Metric("so2", "ppb", 0, 2000, "Sulphur dioxide"),
        Metric("co", "ppm", 0, 500, "Carbon monoxide"),
        Metric("temperature", "°C", -40, 85, "Air temperature"),
        Metric("humidity", "%", 0, 100, "Relative humidity"),
    ),
)
