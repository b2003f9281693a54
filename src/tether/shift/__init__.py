"""tether.shift: is production still what the reward model was trained on?"""
