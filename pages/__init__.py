"""Streamlit pages of musictag (routed by app.py with st.navigation) and their helpers."""
