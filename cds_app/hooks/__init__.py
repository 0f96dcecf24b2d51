"""CDS Hooks 2.0: discovery, the patient-view service, cards, feedback and JWT security."""
