"""Training: teachers, soft targets, students and distillation."""
