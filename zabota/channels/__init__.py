"""Channel logic without I/O: phone numbers, the channel-choice policy, the text a voice call speaks."""
