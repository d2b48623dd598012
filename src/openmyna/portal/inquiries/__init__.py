"""Portal FAQ and the inquiry form whose submissions reach the staff inbox."""
