"""What operators watch: the health report, the Prometheus scrape and the admin dashboard."""
