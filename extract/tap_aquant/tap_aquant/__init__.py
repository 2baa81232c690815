"""tap-aquant: aquant's raw tables as Singer streams; target-aquant: Singer records into aquant's raw schema."""
