# The report tests generate runs with the real executable, then read what `report` and `compare` write.
add_dependencies(test_report medvlmbench)
