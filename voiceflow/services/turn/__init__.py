"""Audio end-of-turn models: does this audio sound like the caller has finished?"""
