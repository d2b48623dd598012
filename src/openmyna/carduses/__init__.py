"""Other card uses: employee IDs in the card's free space and the gates that admit them (社員証・入退館証)."""
